"""Imports the real bittensor 10.5 package so that it works offline and keeps stdout clean.

Every script here imports bittensor through `load()` (directly or via miid_protocol.py):

* READ_ONLY=1 is set (unless the caller set it) before the import, so bittensor does not
  create ~/.bittensor/{wallets,miners} at import time.
* bittensor's logging machine builds a `StreamHandler(sys.stdout)` when the package is
  imported; sys.stdout is pointed at stderr during the import so that handler (and anything
  else printed then) lands on stderr, and every handler it kept is re-pointed at stderr
  afterwards. The scripts' stdout carries only their results.
* `bittensor.utils.networking.get_external_ip` asks public web services for this machine's
  address and raises offline; `bt.Dendrite()` always calls it (through the module attribute,
  so replacing it there is enough). It is replaced by a constant "127.0.0.1".

Note: a Dendrite whose external ip equals the target axon's ip sends to `0.0.0.0:PORT`
instead of the axon's ip; Linux routes a connection to 0.0.0.0 to the loopback interface.
"""

import logging
import os
import sys

LOOPBACK = "127.0.0.1"

_loaded = None


def _loopback_ip() -> str:
    return LOOPBACK


def load():
    """The `bittensor` module, imported offline with its logging on stderr (cached)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    os.environ.setdefault("READ_ONLY", "1")
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    try:
        import bittensor as bt
        import bittensor.utils.networking as networking
    finally:
        sys.stdout = real_stdout
    # Anything still attached to the real stdout (bittensor's handlers, third-party loggers)
    # is moved to stderr.
    loggers = [logging.getLogger()] + [
        l for l in logging.Logger.manager.loggerDict.values() if isinstance(l, logging.Logger)
    ]
    handlers = list(getattr(bt.logging, "_handlers", []))
    for logger in loggers:
        handlers.extend(logger.handlers)
    for handler in handlers:
        if isinstance(handler, logging.StreamHandler) and handler.stream in (
            real_stdout,
            sys.__stdout__,
        ):
            handler.setStream(sys.stderr)
    networking.get_external_ip = _loopback_ip
    _loaded = bt
    return bt
