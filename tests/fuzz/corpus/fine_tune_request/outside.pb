
o

data/outside