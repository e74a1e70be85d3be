// The header used from C++: declarations have C linkage, so this links against the library.
#include "rillflow.h"
#include <cstdio>
#include <cstring>

int main() {
    rf_engine *engine = nullptr;
    rf_engine_options options;
    int failed = 0;
    failed += rf_engine_options_init_v2(&options, sizeof options) != RF_OK;
    failed += rf_engine_create(&options, &engine) != RF_OK;
    failed += rf_engine_release(engine) != RF_OK;
    failed += std::strcmp(rf_version_string(), RF_VERSION_STRING) != 0;
    std::printf("%d passed, %d failed\n", 4 - failed, failed);
    return failed == 0 ? 0 : 1;
}
