"""Running untrusted code in hardened Docker containers. The only package that imports docker."""
