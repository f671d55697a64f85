/* backend_native.c: bare hardware. Every site stays as it is.
 * SPDX-License-Identifier: MIT
 * Copyright (c) 2026 the previrt authors. Permission is hereby granted, free of charge, to any
 * person obtaining a copy of this file, to deal in it without restriction, subject to this notice
 * being kept. THE FILE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
 */
#include "previrt_runtime.h"

static enum previrt_action native_patch(void *ctx, const struct previrt_patch_site *site)
{
    (void)ctx;
    (void)site;
    return PREVIRT_LEFT_NATIVE;
}

void previrt_native_backend(struct previrt_backend *backend)
{
    backend->name = "native";
    backend->check = 0;
    backend->patch = native_patch;
    backend->ctx = 0;
    backend->lengths = PREVIRT_BACKEND_LENGTHS;
    backend->min_site_length[0] = backend->min_site_length[1] = backend->min_site_length[2] = 0;
}
