"""Providers are found through the ``dialogo.providers`` entry-point group, filtered by the
allow and deny lists in the settings (``DIALOGO_PROVIDERS_ALLOW`` / ``DIALOGO_PROVIDERS_DENY``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import EntryPoint, entry_points

import httpx

from dialogo.providers.base import Provider
from dialogo.providers.netpolicy import OutboundPolicy, guarded_client

log = logging.getLogger("dialogo.providers")
GROUP = "dialogo.providers"


class ProviderRegistry:
    def __init__(
        self,
        providers: dict[str, type[Provider]] | None = None,
        *,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._providers = dict(providers or {})
        #: The addresses providers may fetch (``Settings.outbound_policy``); ``None``: no
        #: policy (a registry built by hand, in tests, with fakes).
        self.outbound = outbound

    @classmethod
    def from_entry_points(
        cls,
        *,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] = (),
        eps: Iterable[EntryPoint] | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> ProviderRegistry:
        allowed = set(allow) if allow else None
        denied = set(deny)
        found: dict[str, type[Provider]] = {}
        for ep in eps if eps is not None else entry_points(group=GROUP):
            if ep.name in denied or (allowed is not None and ep.name not in allowed):
                continue
            try:
                provider = ep.load()
            except Exception:
                log.exception("provider %s could not be loaded; it is skipped", ep.name)
                continue
            if not (isinstance(provider, type) and issubclass(provider, Provider)):
                log.error("entry point %s is not a Provider subclass; it is skipped", ep.name)
                continue
            if provider.capabilities.network != ep.name:
                log.error(
                    "entry point %s declares network %r; it is skipped",
                    ep.name,
                    provider.capabilities.network,
                )
                continue
            found[ep.name] = provider
        return cls(found, outbound=outbound)

    def http_client(self) -> httpx.Client | None:
        """A client that enforces the outbound policy, or ``None`` (the provider's own)."""
        return guarded_client(self.outbound) if self.outbound is not None else None

    def check_config(self, config: dict[str, str], extra: dict[str, str] | None = None) -> None:
        """Refuse (``OutboundRefused``) a configuration naming an address not allowed."""
        if self.outbound is not None:
            self.outbound.check_config(config, extra)

    def get(self, network: str) -> type[Provider]:
        try:
            return self._providers[network]
        except KeyError:
            raise KeyError(f"no provider for network {network!r}") from None

    def names(self) -> list[str]:
        return sorted(self._providers)

    def __contains__(self, network: object) -> bool:
        return network in self._providers
