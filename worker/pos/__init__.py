"""POS clients behind one interface (Retail Cloud legacy and Hyperforce auth)."""

from worker.pos.base import ImportResult, PosApi
from worker.pos.client import PosClient

__all__ = ["ImportResult", "PosApi", "PosClient"]
