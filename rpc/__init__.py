"""JSON-RPC 2.0 over HTTP between the web tier and the app servers."""

from rpc.client import AllReplicasDown, FailedAttempt, RpcClient, RpcError
from rpc.server import create_rpc_app

__all__ = ["AllReplicasDown", "FailedAttempt", "RpcClient", "RpcError", "create_rpc_app"]
