"""Connecting Qt objects to the core Session's psygnal signals for as long as they live."""

from __future__ import annotations

import weakref

from PySide6.QtCore import QObject


def bind(receiver: QObject, signal, slot) -> None:
    """Connect a psygnal ``signal`` to ``slot`` (a bound method) for as long as the Qt ``receiver`` lives.

    psygnal keeps only weak references to bound methods, but a Qt object's C++ side can be
    destroyed while its Python wrapper survives; disconnecting on ``destroyed`` keeps a late
    emit from touching a deleted object. The disconnecting closure holds the slot weakly, so
    it does not keep an unparented widget alive either.
    """
    signal.connect(slot)
    method = weakref.WeakMethod(slot)

    def disconnect(*_args) -> None:
        alive = method()
        if alive is not None:
            signal.disconnect(alive, missing_ok=True)

    receiver.destroyed.connect(disconnect)
