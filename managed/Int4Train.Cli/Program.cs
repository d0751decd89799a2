using Int4Train.Cli;

// int4train — the command-line entry point: train (the main job), compare, sample, layer-demo; `demo` is a short
// INT4 training on the tiny preset and the built-in text.
string verb = args.Length == 0 ? "help" : args[0];
string[] rest = args.Skip(1).ToArray();
return verb switch
{
    "train" => TrainCommand.Train(rest),
    "demo" => TrainCommand.Train(Demo.Arguments(rest, Demo.OnGpu(rest))),
    "compare" => CompareCommand.Run(rest),
    "sample" => TrainCommand.Sample(rest),
    "layer-demo" => LayerDemo.Run(rest),
    "help" or "--help" or "-h" => Usage(0),
    _ => Unknown(verb),
};

static int Unknown(string verb)
{
    Console.Error.WriteLine($"int4train: unknown command '{verb}'.");
    return Usage(2);
}

static int Usage(int code)
{
    (code == 0 ? Console.Out : Console.Error).WriteLine("""
        usage: int4train train   [--data FILE] [--precision int4|int4-lsq|bf16|fp32] [--preset tiny|small|baby-gpt]
                                 [--steps N] [--eval-every K] [--out DIR] [--resume CKPT] [--seed S]
                                 [--device auto|cpu|gpu] [--batch B] [--context T] [--plain]
                                 [--cold-start N] [--reinit-step N] [--sampling nonzero|bernoulli]
               int4train demo    [train options]   a short INT4 run: tiny preset, built-in text, 30 steps
               int4train compare [--precisions int4,int4-lsq,bf16,fp32] [--out DIR] [--resume] [--title TEXT]
                                 [--data FILE] [--preset P] [--steps N] [--eval-every K] [--seed S]
                                 [--device auto|cpu|gpu] [--batch B] [--context T] [--plain]
               int4train compare --from DIR1,DIR2,... [--out DIR] [--title TEXT]
               int4train sample  --checkpoint FILE [--tokens N] [--prompt TEXT] [--seed S] [--device auto|cpu|gpu]
               int4train layer-demo [--tokens N] [--in D] [--out C] [--seed S] [--cpu]

          train      trains a GPT with its block linears in the given precision; writes DIR/loss.csv and DIR/checkpoint.bin
                     (default DIR runs/<preset>-<precision>); without --data it trains on a small built-in text
          compare    trains the same configuration in each precision into DIR/<precision>/, then writes DIR/compare.md
                     (best validation loss per precision) and DIR/compare.png; --from only reports existing run folders
          --device   gpu: the whole model on the CUDA GPU; cpu: the host model, INT4 layers on the ILGPU CPU
                     reference (slow); auto (default): gpu when one is usable, else cpu
          --plain    plain log lines instead of the live progress bar (also when the output is redirected)
        """);
    return code;
}
