#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The blob examples/train_chars writes (in C++) must be byte for byte the blob that
tools/ctattn_blob.py and tools/ctattn_gen.py --blob write from the llama2.c checkpoint it wrote
beside it: three writers of the validated format, one result.

    check_blob.py TOOLS_DIR DESCRIPTION.json PREFIX.ctw PREFIX.bin
"""
import os
import subprocess
import sys
import tempfile


def main():
    tools, description, blob, checkpoint = sys.argv[1:5]
    want = open(blob, 'rb').read()
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        out = os.path.join(tmp, 'blob_tool.ctw')
        subprocess.run([sys.executable, os.path.join(tools, 'ctattn_blob.py'), checkpoint, out], check=True)
        results['tools/ctattn_blob.py'] = open(out, 'rb').read()
        out = os.path.join(tmp, 'gen_tool.ctw')
        subprocess.run([sys.executable, os.path.join(tools, 'ctattn_gen.py'), description, '--checkpoint', checkpoint,
                        '--blob', out], check=True)
        results['tools/ctattn_gen.py --blob'] = open(out, 'rb').read()
    failed = 0
    for name, got in results.items():
        same = got == want
        print(f'{name}: {len(got)} bytes, {"identical to" if same else "DIFFERENT from"} {os.path.basename(blob)} '
              f'({len(want)} bytes)')
        failed += not same
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
