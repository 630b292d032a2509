"""Containers: Sequential and ModuleList."""

from __future__ import annotations

from collections import OrderedDict

from . import _fusion
from .module import Module


class Sequential(Module):
    """Chain modules: h(k) = f_k(h(k-1)).

    Example:
        >>> net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    """

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], (dict, OrderedDict)):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                if not isinstance(m, Module):
                    raise TypeError(
                        f"Sequential expects Modules; item {i} is {type(m).__name__}"
                    )
                self.add_module(str(i), m)

    def forward(self, x):
        # Linear + activation pairs run as one op (``_fusion``)
        mods = tuple(self._modules.values())
        cached = self.__dict__.get("_steps")
        if cached is None or cached[0] != mods:
            cached = (mods, _fusion.plan(mods))
            object.__setattr__(self, "_steps", cached)
        return _fusion.run(cached[1], x)

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self._modules)), module)
        return self


class ModuleList(Module):
    """A list of modules whose parameters are registered."""

    def __init__(self, modules=()):
        super().__init__()
        for m in modules:
            self.append(m)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self._modules)), module)
        return self

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())
