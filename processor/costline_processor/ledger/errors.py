"""Why a ledger cannot be opened or written, whatever its backend."""

from __future__ import annotations


class LedgerLockedError(RuntimeError):
    """Another process (or another `Ledger` object) has this ledger open for writing."""


class LedgerSchemaError(RuntimeError):
    """The ledger was written by a newer costline (or is not a costline ledger)."""


class LedgerUnavailableError(RuntimeError):
    """The ledger's database cannot be reached or failed the transaction; retrying later can succeed."""
