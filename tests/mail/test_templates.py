"""The scheduler's mail, worded by templates/mail/: what each part says to its reader."""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

from aerie.alerts import Alert, AlertEvent
from aerie.digests import Digest
from aerie.reports import DayFigure
from aerie.settings import Settings
from aerie.stats import Stat
from presenters.mail import TemplateMail

SETTINGS = Settings(public_web_url="https://aerie.example")
STAT = Stat(1, "s1", 7, "orders & <refunds>", "counter", "k1", "€", False, 0, None)
QUIET = Stat(2, "s2", 7, "temperature", "value", "k2", None, False, 0, None)
ALERT = Alert(1, "a1", 7, 1, "value", "1h", "greater than", 5.0, None, None, 60, True, None,
              "ok", 0, None, None, None, None, 0)


def _text(message: EmailMessage) -> str:
    return message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def _html(message: EmailMessage) -> str:
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_an_alert_mail_shows_the_name_as_typed_in_text_and_escaped_in_html() -> None:
    event = AlertEvent(1, 1, 0, "firing", 7.0, "ALERT: orders & <refunds> is 7", None, None)
    mail = TemplateMail(SETTINGS).alert("anna@example.com", ALERT, STAT, event, None)
    assert mail["Subject"] == "[Aerie] ALERT: orders & <refunds> is 7"
    assert _text(mail) == ("ALERT: orders & <refunds> is 7\n\nSee the alert and its history: "
                           "https://aerie.example/alerts/a1\n")
    assert "<strong>ALERT: orders &amp; &lt;refunds&gt; is 7</strong>" in _html(mail)
    assert "The graph could not be drawn just now." in _html(mail)


def test_a_long_alert_headline_is_cut_in_the_subject_only() -> None:
    headline = "ALERT: " + "x" * 400
    event = AlertEvent(1, 1, 0, "firing", 7.0, headline, None, None)
    mail = TemplateMail(SETTINGS).alert("anna@example.com", ALERT, STAT, event, b"\x89PNG")
    assert mail["Subject"] == f"[Aerie] {headline}"[:250]
    assert _text(mail).startswith(headline + "\n")
    assert [p.get_content_type() for p in mail.walk()].count("image/png") == 1


def test_a_digest_lists_each_new_stat_with_its_delete_link() -> None:
    mail = TemplateMail(SETTINGS).digest(Digest(7, "anna@example.com", [STAT, QUIET]))
    assert mail["Subject"] == "[Aerie] 2 new stats"
    assert _text(mail) == (
        "Your EZ posts created these stats. If one is a typo, delete it here:\n\n"
        "- orders & <refunds>: https://aerie.example/stats/s1/delete\n"
        "- temperature: https://aerie.example/stats/s2/delete\n")


def test_a_report_gives_each_figure_with_its_unit_and_changes() -> None:
    figures = [DayFigure(STAT, date(2026, 3, 8), 1500.0, 750.0, None),
               DayFigure(QUIET, date(2026, 3, 8), None, 3.0, 2.0)]
    mail = TemplateMail(SETTINGS).report("anna@example.com", date(2026, 3, 8), figures,
                                         {"s1": b"\x89PNG"})
    assert mail["Subject"] == "[Aerie] Your stats for Sunday 08 March 2026"
    assert _text(mail) == (
        "Your stats for Sunday 08 March 2026\n\n"
        "orders & <refunds>: 1.5k € (+100.0% on the day before, — on the same day last week)\n"
        "temperature: no data (— on the day before, — on the same day last week)\n\n"
        "Change it: https://aerie.example/reports\n")
    assert _html(mail).count("<img ") == 1
