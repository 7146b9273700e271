"""Frozen dataclasses that are quick to build.

A frozen dataclass's `__init__` sets each field through `object.__setattr__`, about 0.1 µs
a field; the loop builds a dozen such objects per call (events, the parsed call, its
record, the request). Both decorators here give such a class an `__init__` with the same
parameters that is quicker. The instance is the same (fields, equality, hash, repr) and
stays frozen: assigning a field still raises.

- `quick_init` writes the fields into the instance's dict: the quickest to build, for
  objects made one or a few per call;
- `compact_init` sets them through `object.__setattr__` looked up once: the values stay
  in the instance's compact inline storage (a dict makes each instance about 90 bytes
  larger and its reads slower), for objects that may be kept by the hundred thousand,
  such as the detector's events over a long text.
"""

from __future__ import annotations

from dataclasses import MISSING, fields, is_dataclass
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """`cls`, a frozen dataclass (no `__post_init__`, no default factories, no
    keyword-only or `init=False` fields, no slots), with an `__init__` that fills the
    instance's dict."""
    return _with_init(cls, "_fields[{name!r}] = {name}", "_fields = self.__dict__; ")


def compact_init(cls: type[T]) -> type[T]:
    """`cls` (as for `quick_init`) with an `__init__` that keeps the values inline."""
    return _with_init(cls, "_set(self, {name!r}, {name})", "")


def _with_init(cls: type[T], store: str, start: str) -> type[T]:
    params = getattr(cls, "__dataclass_params__", None)
    if not is_dataclass(cls) or params is None or not params.frozen or hasattr(cls, "__post_init__") \
            or hasattr(cls, "__slots__"):
        raise TypeError(f"a frozen dataclass without __post_init__ or slots is needed, not {cls!r}")
    names: list[str] = []
    defaults: dict[str, Any] = {}
    for f in fields(cls):
        if not f.init or f.kw_only or f.default_factory is not MISSING or f.name in ("self", "_set", "_fields"):
            raise TypeError(f"cannot build field {f.name!r} of {cls.__name__} this way")
        names.append(f.name)
        if f.default is not MISSING:
            defaults[f"_default_{f.name}"] = f.default
    signature = ", ".join(["self", *(f"{n}=_default_{n}" if f"_default_{n}" in defaults else n for n in names)])
    body = "; ".join(store.format(name=n) for n in names) or "pass"
    source = f"def __init__({signature}):\n    {start}{body}\n"
    namespace: dict[str, Any] = {}
    exec(source, {"_set": object.__setattr__, **defaults}, namespace)  # noqa: S102 - built from field names only
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(getattr(cls.__init__, "__annotations__", {}))
    setattr(cls, "__init__", init)
    return cls
