"""``aerie import``: history from StatHat exports and Graphite whisper trees, written as rollups.

Readers (``stathat_files``, ``whisper_files``) turn one file into ``ImportedStat`` points
without touching the database, so a bad file is refused before anything is written;
``store`` writes one file's stats in one transaction; ``command`` is the CLI glue.
"""
