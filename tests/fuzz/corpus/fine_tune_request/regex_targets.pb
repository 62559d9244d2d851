
r


data d".*self_attn.*