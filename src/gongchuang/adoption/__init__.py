"""Cloud adoption of farmland (云认养): fields offered by the square metre or plot, adoption
without overselling, payment, the growth diary, the harvest and its delivery, and the village's
public income ledger."""
