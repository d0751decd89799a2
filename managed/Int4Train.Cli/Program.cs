using Int4Train.Cli;

// int4train — the command-line entry point. Commands: demo (the default), train, sample.
return args.Length == 0 || args[0] is "demo" ? LayerDemo.Run(args.Skip(1).ToArray())
    : args[0] is "train" ? TrainCommand.Train(args.Skip(1).ToArray())
    : args[0] is "sample" ? TrainCommand.Sample(args.Skip(1).ToArray())
    : Usage();

static int Usage()
{
    Console.Error.WriteLine("""
        usage: int4train demo [--tokens N] [--in D] [--out C] [--seed S] [--cpu]
               int4train train [--data FILE] [--precision int4|int4-lsq|fp32] [--preset tiny|baby-gpt] [--steps N]
                               [--eval-every K] [--out DIR] [--resume CKPT] [--seed S]
               int4train sample --checkpoint FILE [--tokens N] [--seed S]
        """);
    return 2;
}
