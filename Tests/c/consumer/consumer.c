#include <stdio.h>
#include <rillflow.h>

int main(void) {
    rf_engine *engine = NULL;
    if (rf_engine_create(NULL, &engine) != RF_OK) return 1;
    if (rf_engine_release(engine) != RF_OK) return 1;
    printf("consumer linked rillflow %s\n", rf_version_string());
    return rf_version() == RF_VERSION_NUMBER ? 0 : 1;
}
