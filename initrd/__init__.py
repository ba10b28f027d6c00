"""The pivot agent that runs in the initramfs (standard library only)."""
