# R mirt's fit and EAP scores on one benchmark set, timed as the replaced service ran them:
# mirt(data, 1, '2PL') with its defaults (or 'graded' for GRM), then fscores(method = 'EAP').
# Reading the CSV and shaping the person × item matrix are not timed. Prints one line of
# seconds per run.
#
#   Rscript scripts/bench_mirt.R ANSWERS.csv RUNS [2PL|GRM]      (R_LIBS where mirt is installed)
args <- commandArgs(trailingOnly = TRUE)
if (!(length(args) %in% 2:3)) stop("usage: bench_mirt.R ANSWERS.csv RUNS [2PL|GRM]")
runs <- as.integer(args[2])
itemtype <- if (length(args) == 3 && args[3] == "GRM") "graded" else "2PL"
suppressMessages(library(mirt))
long <- read.csv(args[1])
persons <- sort(unique(long$user_id))
items <- sort(unique(long$question_id))
wide <- matrix(NA_integer_, length(persons), length(items))
# The answer is the third column: correct, or score.
wide[cbind(match(long$user_id, persons), match(long$question_id, items))] <- long[[3]]
colnames(wide) <- paste0("i", items)
for (run in seq_len(runs)) {
  seconds <- system.time({
    fit <- mirt(wide, 1, itemtype = itemtype, verbose = FALSE)
    scores <- fscores(fit, method = "EAP")
  })[["elapsed"]]
  cat(sprintf("%.3f\n", seconds))
}
