// What Swift cannot express against libasound: a C error handler (the handler
// type is variadic). Each wrapper names the call it makes.
#ifndef CALSASHIM_H
#define CALSASHIM_H

/// snd_lib_error_set_handler(quiet): alsa-lib stops printing to stderr; callers
/// report errors themselves, with the device name and what to try.
void wrt_alsa_silence_errors(void);

/// snd_lib_error_set_handler(NULL): back to alsa-lib's own messages.
void wrt_alsa_restore_errors(void);

#endif
