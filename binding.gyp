{
  "targets": [
    {
      "target_name": "tt_native",
      "sources": ["native/tt_native.c", "native/pcsc.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-fstack-protector-strong", "-D_FORTIFY_SOURCE=2"],
      "conditions": [
        ["OS!='linux'", { "type": "none" }]
      ]
    }
  ]
}
