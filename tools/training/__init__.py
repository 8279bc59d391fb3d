"""Training: fine-tuning the cross-encoder on the pipeline's own candidate lists."""
