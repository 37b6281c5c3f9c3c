"""curse-of-memory: the curse of memory in RNNs (Wang, Li & Li, ICLR 2024), reproduced and extended."""

__version__ = "0.1.0"
