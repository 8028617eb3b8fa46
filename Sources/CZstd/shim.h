// The only C surface Diffu uses from libzstd (system library: apt libzstd-dev, brew zstd).
#include <zstd.h>
