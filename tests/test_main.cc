// main() of every GoogleTest binary: points SHOAL_SOURCE_DIR and
// SHOAL_BINARY_DIR at this build's trees unless the environment already
// does, so tests find the repo's files and the built binaries however they
// are started (ctest, by hand, from another directory).
#include <cstdlib>

#include "gtest/gtest.h"

int main(int argc, char** argv) {
  setenv("SHOAL_SOURCE_DIR", SHOAL_SOURCE_DIR_DEFAULT, /*overwrite=*/0);
  setenv("SHOAL_BINARY_DIR", SHOAL_BINARY_DIR_DEFAULT, /*overwrite=*/0);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
