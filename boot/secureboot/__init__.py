"""Secure Boot and measured boot: what the firmware verifies and the TPM measures.

``signing`` signs with ``sbsign`` and never replaces an admin's signed file with
an unsigned one; ``uki`` builds one signed unified image per kernel build, so
the initramfs is under the signature too; ``tpm`` warns before a change to
$BOOT would move a PCR a LUKS key is sealed to.  Apart because none of it
matters to a machine that neither signs nor seals, and all of it must be read
together to see what the firmware will accept.
"""
