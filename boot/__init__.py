"""Boot entries for moss states: kernel discovery, command lines, BLS and clr-boot-manager."""
