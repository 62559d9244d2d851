
i


data d*data/adapter