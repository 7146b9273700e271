"""Frozen dataclasses that are quick to build.

A frozen dataclass's `__init__` sets each field through `object.__setattr__`, about 0.1 µs
a field; the loop builds a dozen such objects per call (events, the parsed call, its
record, the request). `quick_init` gives such a class an `__init__` with the same
parameters that writes the fields into the instance's dict instead. The instance is the
same (fields, equality, hash, repr) and stays frozen: assigning a field still raises.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """`cls`, a frozen dataclass (no `__post_init__`, no default factories, no
    keyword-only or `init=False` fields, no slots), with a quicker `__init__`."""
    params = getattr(cls, "__dataclass_params__", None)
    if not is_dataclass(cls) or params is None or not params.frozen or hasattr(cls, "__post_init__") \
            or hasattr(cls, "__slots__"):
        raise TypeError(f"quick_init takes a frozen dataclass without __post_init__ or slots, not {cls!r}")
    names: list[str] = []
    defaults: dict[str, Any] = {}
    for f in fields(cls):
        if not f.init or f.kw_only or f.name in ("self", "_fields") or f.default_factory is not MISSING:
            raise TypeError(f"quick_init cannot build field {f.name!r} of {cls.__name__}")
        names.append(f.name)
        if f.default is not MISSING:
            defaults[f"_default_{f.name}"] = f.default
    signature = ", ".join(["self", *(f"{n}=_default_{n}" if f"_default_{n}" in defaults else n for n in names)])
    body = "; ".join(f"_fields[{n!r}] = {n}" for n in names) or "pass"
    source = f"def __init__({signature}):\n    _fields = self.__dict__; {body}\n"
    namespace: dict[str, Any] = {}
    exec(source, dict(defaults), namespace)  # noqa: S102 - the source is built from field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(getattr(cls.__init__, "__annotations__", {}))
    setattr(cls, "__init__", init)
    return cls
