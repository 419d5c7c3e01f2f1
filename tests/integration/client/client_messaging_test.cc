// wa::client::Client messaging against a real wasim process (placeholder until the tests land).
#include "wasim_fixture.h"
