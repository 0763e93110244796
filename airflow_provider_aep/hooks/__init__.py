"""The hook and everything under it that talks to IMS and Platform over HTTP."""
