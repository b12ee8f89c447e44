"""booth process / preview / eval (being written)."""


def register(sub) -> None:
    pass
