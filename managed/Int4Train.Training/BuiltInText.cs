namespace Int4Train.Training;

/// <summary>A few paragraphs written for this project (free to use), for runs without --data.</summary>
/// <remarks>Thread safety: constant data; safe from any thread.</remarks>
public static class BuiltInText
{
    /// <summary>The text, repeated a few times so a tiny model has something to learn and to validate on.</summary>
    public static string Text { get; } = string.Concat(Enumerable.Repeat(Paragraphs, 6));

    private const string Paragraphs = """
        The miller lived at the bend of the river, where the water ran slow and brown under the willows. Every
        morning he opened the sluice, and the great wheel turned, and the stones ground the grain that the farmers
        brought down from the hills. He was not a rich man, but he was never hungry, and his door was never shut.

        In the spring the river rose, and the miller watched it from the bridge. The water came up to the third
        stone, then to the fourth, and the farmers said that the wheel would break. But the miller had built the
        wheel himself, and he knew every board of it, and he only laughed and went home to his supper.

        When the summer came the river fell again, and the children waded in the shallows and caught small fish
        with their hands. The miller's daughter sat on the bank with a book, and read aloud to them about kings
        and sailors and the cities beyond the sea, and the children listened and forgot the fish.

        In the autumn the carts came down the hill road, heavy with grain, and the mill ran from dawn until dark.
        The miller worked and sang, and his daughter kept the accounts, and the flour went out in white sacks to
        the town. At night the wheel was still, and the river talked to itself under the stars.

        And in the winter the snow lay on the roof of the mill, and the ice stood in the sluice, and the wheel
        did not turn at all. Then the miller mended his tools by the fire, and his daughter read to him, and they
        waited, as the river waited, for the spring.

        """;
}
