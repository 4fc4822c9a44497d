"""Model loading shared by every stage and the evaluator."""
