"""Serving: reading drawings with saved models (LiteRT exports, the Predictor) and explaining the answer."""
