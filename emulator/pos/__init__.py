"""Emulated Retail Cloud POS (``pos-api.md`` §8): API, store associates, in-store sales, webhooks."""

from emulator.pos.app import STATE, RunningPos, create_pos_app, start_pos_emulator
from emulator.pos.settings import PosEmulatorSettings

__all__ = ["STATE", "PosEmulatorSettings", "RunningPos", "create_pos_app", "start_pos_emulator"]
