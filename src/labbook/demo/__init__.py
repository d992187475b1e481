"""Demo data telling labbook's story (see docs/architecture.md). Loading it twice changes nothing."""

from labbook.demo.service import load_demo

__all__ = ["load_demo"]
