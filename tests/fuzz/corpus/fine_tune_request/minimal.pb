
a


data d