"""The sandbox network: the simulated world of :mod:`dialogo.simulation` as a provider."""
