"""Service-level clocks (办理时限): the working-day calendar and the SLA clock rules."""
