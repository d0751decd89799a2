using Int4Train.Cli;

// int4train — the command-line entry point. Commands: demo (now); train / compare / sample come with the trainer.
return args.Length == 0 || args[0] is "demo"
    ? LayerDemo.Run(args.Skip(1).ToArray())
    : Usage();

static int Usage()
{
    Console.Error.WriteLine("usage: int4train demo [--tokens N] [--in D] [--out C] [--seed S] [--cpu]");
    return 2;
}
