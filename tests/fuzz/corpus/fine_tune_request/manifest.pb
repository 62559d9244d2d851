
m!
data/train.csvdata/eval.csv