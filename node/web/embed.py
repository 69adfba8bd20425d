# Turn a file into a C array (the status page is compiled into batond).
import sys
data = open(sys.argv[1], "rb").read()
with open(sys.argv[2], "w") as f:
    f.write("/* generated from %s; do not edit */\n#include <stddef.h>\n" % sys.argv[1].split("/")[-1])
    f.write("const unsigned char baton_web_index[] = {\n")
    for i in range(0, len(data), 16):
        f.write("  " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",\n")
    f.write("};\nconst size_t baton_web_index_len = %d;\n" % len(data))
