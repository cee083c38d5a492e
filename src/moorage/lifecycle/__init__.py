"""Lifecycle policies: ECR grammar, pure evaluation with reasons, preview and scheduled application."""
