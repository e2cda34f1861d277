"""Shared technical pieces every domain may use; they import no domain of the product."""
