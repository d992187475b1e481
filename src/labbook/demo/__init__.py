"""Demo data telling labbook's story (DESIGN.md §6). Loading it twice changes nothing."""

from labbook.demo.service import load_demo

__all__ = ["load_demo"]
