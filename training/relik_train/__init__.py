"""relik_train: training and export half of ReLiK-TS (writes model bundles, format v1, see docs/BUNDLE.md)."""

__version__ = "0.1.0"
NME_LABEL = "--NME--"
