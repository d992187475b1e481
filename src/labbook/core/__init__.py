"""The shared kernel: what every domain may import, and which itself imports no domain.

``roles`` and ``principal`` say who is calling, ``access`` names the rules routes declare, ``paging``
shapes lists, ``kinds`` holds the vocabulary several domains share, ``timespans`` the local-time and
interval arithmetic, ``rows`` the typed rows repositories return, ``sql`` small query helpers.
"""
