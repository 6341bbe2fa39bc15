/* pcsc.c: one reader's state from pcscd, for tt_native.c's exports. */
#ifndef TT_PCSC_H
#define TT_PCSC_H
#include <node_api.h>
napi_value pcsc_reader_state(napi_env env, napi_callback_info info);
#endif
