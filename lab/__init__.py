"""The training lab: how the shipped model is made (`lab.train_full` and its recipes) and the
experimental techniques it uses (distillation, model soups). It imports `digits`; `digits`
never imports it."""
