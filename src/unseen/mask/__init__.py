"""Masks: where to paint (shapes with margins) and with what (fills)."""

from unseen.mask.apply import apply_masks, mask_box, plan_masks

__all__ = ["apply_masks", "mask_box", "plan_masks"]
